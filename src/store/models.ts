import { randomUUID } from "node:crypto";
import type { LayerShape, LayerSpec } from "../core/layer-spec.js";
import { dtypeOf, sizeOf, type Tensor } from "../core/tensor.js";
import { fromBlob, toBlob } from "./blob.js";
import { keysetPage, olderThan, tenantIs } from "./cursor.js";
import type { Db, Engine } from "./engine.js";
import type {
  ListQuery,
  ModelRecord,
  ModelRepository,
  ModelSummaryRecord,
  NewModel,
  Page,
} from "./repository.js";
import type { ModelsTable } from "./schema.js";

const SUMMARY_COLUMNS = [
  "id",
  "tenant",
  "name",
  "dtype",
  "layers",
  "parameter_count",
  "origin",
  "created_at",
  "updated_at",
] as const;

export class Models implements ModelRepository {
  constructor(private readonly engine: Engine) {}

  async create(model: NewModel): Promise<ModelRecord> {
    const record = toRecord(model);
    await this.engine.write((trx) => insertModel(trx, record));
    return record;
  }

  async get(id: string, tenant: string | null): Promise<ModelRecord | undefined> {
    // One statement, row and tensors together: consistent without a transaction on either
    // engine, and one round trip to PostgreSQL.
    const rows = await this.engine.reuse(
      `models.get:${tenant === null}`,
      tenant === null ? [id] : [id, tenant],
      ([id, tenant = null]) =>
        this.engine.db
          .selectFrom("models")
          .leftJoin("model_tensors", "model_tensors.model_id", "models.id")
          .select(SUMMARY_COLUMNS.map((c) => `models.${c}` as const))
          .select("model_tensors.data")
          .where("models.id", "=", id)
          .where(tenantIs(tenant))
          .orderBy("model_tensors.position"),
    );
    if (rows.length === 0) return undefined;
    const found = {
      row: rows[0],
      blobs: rows.flatMap((r) => (r.data === null ? [] : [r.data])),
    };
    const summary = fromRow(found.row);
    const { blobs } = found;
    const affine = summary.layers.filter((l) => l.type === "affine").length;
    if (blobs.length !== 2 * affine) {
      throw new Error(`model ${id} has ${blobs.length} stored tensors for ${affine} affine layers`);
    }
    let next = 0;
    const tensor = (shape: readonly number[]): Tensor => {
      const data = fromBlob(blobs[next++], summary.dtype);
      if (data.length !== sizeOf(shape)) {
        throw new Error(`model ${id}: a stored tensor does not fill its shape [${shape}]`);
      }
      return { shape: [...shape], data };
    };
    const layers = summary.layers.map((l): LayerSpec => {
      if (l.type !== "affine") return l;
      const W = tensor(l.W.shape);
      return { type: "affine", W, b: tensor(l.b.shape) };
    });
    return { ...summary, layers };
  }

  async getSummary(id: string, tenant: string | null): Promise<ModelSummaryRecord | undefined> {
    const [row] = await this.engine.reuse(
      `models.getSummary:${tenant === null}`,
      tenant === null ? [id] : [id, tenant],
      ([id, tenant = null]) =>
        this.engine.db
          .selectFrom("models")
          .select(SUMMARY_COLUMNS)
          .where("id", "=", id)
          .where(tenantIs(tenant)),
    );
    return row && fromRow(row);
  }

  list(query: ListQuery): Promise<Page<ModelSummaryRecord>> {
    return keysetPage(
      query,
      (key, count) => {
        let q = this.engine.db
          .selectFrom("models")
          .select(SUMMARY_COLUMNS)
          .where(tenantIs(query.tenant));
        if (key) q = q.where(olderThan(key));
        return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(count).execute();
      },
      fromRow,
    );
  }

  async idsByName(name: string, tenant: string | null, limit: number): Promise<string[]> {
    const rows = await this.engine.db
      .selectFrom("models")
      .select("id")
      .where("name", "=", name)
      .where(tenantIs(tenant))
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  async delete(id: string, tenant: string | null): Promise<boolean> {
    const result = await this.engine.db
      .deleteFrom("models")
      .where("id", "=", id)
      .where(tenantIs(tenant))
      .executeTakeFirst();
    if (result.numDeletedRows === 0n) return false;
    await this.engine.reclaimSpace();
    return true;
  }
}

/** The model row and its tensors, within the caller's transaction. */
export async function insertModel(trx: Db, record: ModelRecord): Promise<void> {
  await trx
    .insertInto("models")
    .values({
      id: record.id,
      tenant: record.tenant,
      name: record.name,
      dtype: record.dtype,
      layers: JSON.stringify(record.layers.map(summarizeLayer)),
      parameter_count: record.parameterCount,
      origin: JSON.stringify(record.origin),
      created_at: record.createdAt,
      updated_at: record.updatedAt,
    })
    .execute();
  const tensors = tensorsOf(record.layers);
  if (tensors.length === 0) return;
  await trx
    .insertInto("model_tensors")
    .values(tensors.map((t, position) => ({ model_id: record.id, position, data: toBlob(t.data) })))
    .execute();
}

/** The record `create` stores: id, timestamps and the parameter count filled in, dtypes checked. */
export function toRecord(model: NewModel): ModelRecord {
  let parameterCount = 0;
  for (const t of tensorsOf(model.layers)) {
    if (dtypeOf(t.data) !== model.dtype) {
      throw new TypeError(`a ${dtypeOf(t.data)} tensor in a ${model.dtype} model`);
    }
    if (t.data.length !== sizeOf(t.shape)) {
      throw new RangeError(`${t.data.length} values do not fill shape [${t.shape}]`);
    }
    parameterCount += t.data.length;
  }
  const now = new Date().toISOString();
  const createdAt = model.createdAt ?? now;
  return {
    ...model,
    id: model.id ?? randomUUID(),
    parameterCount,
    createdAt,
    updatedAt: model.updatedAt ?? createdAt,
  };
}

function tensorsOf(layers: LayerSpec[]): Tensor[] {
  return layers.flatMap((l) => (l.type === "affine" ? [l.W, l.b] : []));
}

function summarizeLayer(layer: LayerSpec): LayerShape {
  return layer.type === "affine"
    ? { type: "affine", W: { shape: [...layer.W.shape] }, b: { shape: [...layer.b.shape] } }
    : { type: layer.type };
}

function fromRow(row: ModelsTable): ModelSummaryRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    name: row.name,
    dtype: row.dtype,
    layers: JSON.parse(row.layers),
    parameterCount: row.parameter_count,
    origin: JSON.parse(row.origin),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
