import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import { dtypeOf, sizeOf, type Tensor } from "../core/tensor.js";
import { fromBlob, toBlob } from "./blob.js";
import { checkLimit, decodeCursor, encodeCursor } from "./cursor.js";
import type {
  LayerSummary,
  ListQuery,
  ModelRecord,
  ModelRepository,
  ModelSummaryRecord,
  NewModel,
  Page,
  StoredLayer,
} from "./repository.js";

interface ModelRow {
  id: string;
  tenant: string | null;
  name: string | null;
  dtype: ModelRecord["dtype"];
  layers: string;
  parameter_count: number;
  origin: string;
  created_at: string;
  updated_at: string;
}

const SUMMARY_COLUMNS =
  "id, tenant, name, dtype, layers, parameter_count, origin, created_at, updated_at";

export class SqliteModelRepository implements ModelRepository {
  private readonly insertModel: Database.Statement;
  private readonly insertTensor: Database.Statement;
  private readonly selectSummary: Database.Statement<[string, string | null], ModelRow>;
  private readonly selectTensors: Database.Statement<[string], Buffer>;
  private readonly deleteModel: Database.Statement<[string, string | null]>;
  private readonly firstPage: Database.Statement<[string | null, number], ModelRow>;
  private readonly nextPage: Database.Statement<[string | null, string, string, number], ModelRow>;
  private readonly selectIdsByName: Database.Statement<[string, string | null, number], string>;

  constructor(private readonly db: Database.Database) {
    this.insertModel = db.prepare(
      `INSERT INTO models (${SUMMARY_COLUMNS}) VALUES
       (@id, @tenant, @name, @dtype, @layers, @parameterCount, @origin, @createdAt, @updatedAt)`,
    );
    this.insertTensor = db.prepare(
      "INSERT INTO model_tensors (model_id, position, data) VALUES (?, ?, ?)",
    );
    this.selectSummary = db.prepare(
      `SELECT ${SUMMARY_COLUMNS} FROM models WHERE id = ? AND tenant IS ?`,
    );
    this.selectTensors = db
      .prepare<[string], Buffer>(
        "SELECT data FROM model_tensors WHERE model_id = ? ORDER BY position",
      )
      .pluck();
    this.deleteModel = db.prepare("DELETE FROM models WHERE id = ? AND tenant IS ?");
    this.firstPage = db.prepare(
      `SELECT ${SUMMARY_COLUMNS} FROM models WHERE tenant IS ?
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    );
    this.nextPage = db.prepare(
      `SELECT ${SUMMARY_COLUMNS} FROM models WHERE tenant IS ? AND (created_at, id) < (?, ?)
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    );
    this.selectIdsByName = db
      .prepare<[string, string | null, number], string>(
        `SELECT id FROM models WHERE name = ? AND tenant IS ?
         ORDER BY created_at DESC, id DESC LIMIT ?`,
      )
      .pluck();
  }

  create(model: NewModel): ModelRecord {
    const record = toRecord(model);
    this.db.transaction(() => this.insert(record))();
    return record;
  }

  /** The model row and its tensors; `create` wraps them in one transaction. */
  private insert(record: ModelRecord): void {
    this.insertModel.run({
      id: record.id,
      tenant: record.tenant,
      name: record.name,
      dtype: record.dtype,
      layers: JSON.stringify(record.layers.map(summarizeLayer)),
      parameterCount: record.parameterCount,
      origin: JSON.stringify(record.origin),
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    });
    tensorsOf(record.layers).forEach((t, position) => {
      this.insertTensor.run(record.id, position, toBlob(t.data));
    });
  }

  get(id: string, tenant: string | null): ModelRecord | undefined {
    const read = this.db.transaction(() => {
      const row = this.selectSummary.get(id, tenant);
      return row && { row, blobs: this.selectTensors.all(id) };
    });
    const found = read();
    if (!found) return undefined;
    const summary = fromRow(found.row);
    const { blobs } = found;
    const affine = summary.layers.filter((l) => l.type === "affine").length;
    if (blobs.length !== 2 * affine) {
      throw new Error(`model ${id} has ${blobs.length} stored tensors for ${affine} affine layers`);
    }
    let next = 0;
    const tensor = (shape: number[]): Tensor => {
      const data = fromBlob(blobs[next++], summary.dtype);
      if (data.length !== sizeOf(shape)) {
        throw new Error(`model ${id}: a stored tensor does not fill its shape [${shape}]`);
      }
      return { shape, data };
    };
    const layers = summary.layers.map((l): StoredLayer => {
      if (l.type !== "affine") return l;
      const W = tensor(l.W.shape);
      return { type: "affine", W, b: tensor(l.b.shape) };
    });
    return { ...summary, layers };
  }

  getSummary(id: string, tenant: string | null): ModelSummaryRecord | undefined {
    const row = this.selectSummary.get(id, tenant);
    return row && fromRow(row);
  }

  list({ tenant, limit, cursor }: ListQuery): Page<ModelSummaryRecord> {
    checkLimit(limit);
    // One row more than asked tells whether another page exists.
    const rows = cursor
      ? this.nextPage.all(tenant, ...keyOf(cursor), limit + 1)
      : this.firstPage.all(tenant, limit + 1);
    const items = rows.slice(0, limit).map(fromRow);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit ? encodeCursor(last) : null };
  }

  idsByName(name: string, tenant: string | null, limit: number): string[] {
    return this.selectIdsByName.all(name, tenant, limit);
  }

  delete(id: string, tenant: string | null): boolean {
    return this.deleteModel.run(id, tenant).changes > 0;
  }
}

function keyOf(cursor: string): [string, string] {
  const { createdAt, id } = decodeCursor(cursor);
  return [createdAt, id];
}

function toRecord(model: NewModel): ModelRecord {
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

function tensorsOf(layers: StoredLayer[]): Tensor[] {
  return layers.flatMap((l) => (l.type === "affine" ? [l.W, l.b] : []));
}

function summarizeLayer(layer: StoredLayer): LayerSummary {
  return layer.type === "affine"
    ? { type: "affine", W: { shape: [...layer.W.shape] }, b: { shape: [...layer.b.shape] } }
    : { type: layer.type };
}

function fromRow(row: ModelRow): ModelSummaryRecord {
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
