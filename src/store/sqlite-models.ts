import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import type { LayerShape, LayerSpec } from "../core/layer-spec.js";
import { dtypeOf, sizeOf, type Tensor } from "../core/tensor.js";
import { fromBlob, toBlob } from "./blob.js";
import { KeysetPages } from "./cursor.js";
import type {
  ListQuery,
  ModelRecord,
  ModelRepository,
  ModelSummaryRecord,
  NewModel,
  Page,
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
  private readonly pages: KeysetPages<ModelRow, ModelSummaryRecord>;
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
    this.pages = new KeysetPages(db, "models", SUMMARY_COLUMNS, fromRow);
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

  getSummary(id: string, tenant: string | null): ModelSummaryRecord | undefined {
    const row = this.selectSummary.get(id, tenant);
    return row && fromRow(row);
  }

  list(query: ListQuery): Page<ModelSummaryRecord> {
    return this.pages.list(query);
  }

  idsByName(name: string, tenant: string | null, limit: number): string[] {
    return this.selectIdsByName.all(name, tenant, limit);
  }

  delete(id: string, tenant: string | null): boolean {
    return this.deleteModel.run(id, tenant).changes > 0;
  }
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

function tensorsOf(layers: LayerSpec[]): Tensor[] {
  return layers.flatMap((l) => (l.type === "affine" ? [l.W, l.b] : []));
}

function summarizeLayer(layer: LayerSpec): LayerShape {
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
