import { mapLayerTensors } from "../core/layer-spec.js";
import type { Tensor } from "../core/tensor.js";
import type {
  ListQuery,
  ModelRecord,
  ModelRepository,
  ModelSummaryRecord,
  NewModel,
  Page,
} from "./repository.js";

const bytesOf = (model: ModelRecord) =>
  model.layers.reduce(
    (sum, layer) =>
      layer.type === "affine" ? sum + layer.W.data.byteLength + layer.b.data.byteLength : sum,
    0,
  );

/** Fresh arrays: a task transfers its tensors to a worker thread, which detaches them here. */
const copy = (model: ModelRecord): ModelRecord => ({
  ...model,
  layers: mapLayerTensors(model.layers, (t: Tensor) => ({ shape: t.shape, data: t.data.slice() })),
});

/**
 * The models this replica read lately, newest last, within `maxBytes` of parameters. A model
 * never changes once made, only goes, so a hit costs one small query (is it still there for this
 * tenant? another replica may have deleted it) instead of the parameters: PostgreSQL sends those
 * as hex text that this thread decodes, 3–4 ms for the book's 784-50-10, on every predict.
 */
export class CachedModels implements ModelRepository {
  private readonly kept = new Map<string, { model: ModelRecord; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly models: ModelRepository,
    private readonly maxBytes: number,
  ) {}

  async get(id: string, tenant: string | null): Promise<ModelRecord | undefined> {
    const hit = this.kept.get(id);
    if (hit && hit.model.tenant === tenant) {
      if (!(await this.models.getSummary(id, tenant))) {
        this.forget(id);
        return undefined;
      }
      this.kept.delete(id);
      this.kept.set(id, hit);
      return copy(hit.model);
    }
    const model = await this.models.get(id, tenant);
    if (model) this.keep(model);
    return model && copy(model);
  }

  create(model: NewModel): Promise<ModelRecord> {
    return this.models.create(model);
  }

  getSummary(id: string, tenant: string | null): Promise<ModelSummaryRecord | undefined> {
    return this.models.getSummary(id, tenant);
  }

  list(query: ListQuery): Promise<Page<ModelSummaryRecord>> {
    return this.models.list(query);
  }

  idsByName(name: string, tenant: string | null, limit: number): Promise<string[]> {
    return this.models.idsByName(name, tenant, limit);
  }

  async delete(id: string, tenant: string | null): Promise<boolean> {
    const deleted = await this.models.delete(id, tenant);
    if (deleted) this.forget(id);
    return deleted;
  }

  private keep(model: ModelRecord): void {
    const bytes = bytesOf(model);
    if (bytes > this.maxBytes) return;
    this.forget(model.id);
    this.kept.set(model.id, { model, bytes });
    this.bytes += bytes;
    for (const [id] of this.kept) {
      if (this.bytes <= this.maxBytes) break;
      this.forget(id);
    }
  }

  private forget(id: string): void {
    const gone = this.kept.get(id);
    if (!gone) return;
    this.kept.delete(id);
    this.bytes -= gone.bytes;
  }
}
