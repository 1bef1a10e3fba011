"""Every metric key the project logs, in one place (``stage/name``), so reports and tests agree."""

TRAIN_LOSS = "train/loss"  # the optimised total: BCE + auxiliary terms
TRAIN_AUX_PREFIX = "train/aux"  # one auxiliary loss term per layer that adds one
# Multi-label runs log each label's metrics as ``stage/<label>/<name>`` too
# (``reaction.lit.labels.label_key``); the primary label keeps these plain keys.
VAL_AUC = "val/auc"
VAL_LOGLOSS = "val/logloss"
TEST_AUC = "test/auc"
SERVED_TOWER_NAME = "served_tower"  # multi-tower models: index of the tower with the best val AUC
SERVED_TOWER = f"val/{SERVED_TOWER_NAME}"
TEST_LOGLOSS = "test/logloss"

PARAMS_TOTAL = "params/total"
PARAMS_EMBEDDING = "params/embedding"
PARAMS_DENSE = "params/dense"
FLOPS_PER_SAMPLE = "flops/sample"
EMBEDDING_BYTES_PER_SAMPLE = "embedding_bytes/sample"
LATENCY_MS_PER_BATCH = "latency/ms_per_batch"
LATENCY_BATCH_SIZE = "latency/batch_size"
THROUGHPUT = "throughput/samples_per_s"
TRAIN_SAMPLES_PER_S = "train/samples_per_s"

ROWS_TRAIN = "rows/train"
ROWS_VAL = "rows/val"
ROWS_TEST = "rows/test"
NUM_FIELDS = "fields"  # input fields of the feature map
BAYES_AUC = "bayes_auc"

# AFE: fields and embedding parameters of the same model without / with the plan.
AFE_FIELDS_BEFORE = "afe/fields_before"
AFE_FIELDS_AFTER = "afe/fields_after"
AFE_EMBEDDING_PARAMS_BEFORE = "afe/embedding_params_before"
AFE_EMBEDDING_PARAMS_AFTER = "afe/embedding_params_after"
AFE_EMBEDDING_CUT = "afe/embedding_params_ratio"  # before / after
AFE_FIT_SECONDS = "afe/fit_seconds"

# ``reaction-analyze``: every key it logs is ``analyze/<name>`` (verdict counts, tables, figures).
ANALYZE_PREFIX = "analyze"


# What ``reaction.metrics.costs.cost_report`` measures for a served model.
SERVING_COST_KEYS = (
    PARAMS_TOTAL,
    PARAMS_EMBEDDING,
    PARAMS_DENSE,
    FLOPS_PER_SAMPLE,
    EMBEDDING_BYTES_PER_SAMPLE,
    LATENCY_MS_PER_BATCH,
    LATENCY_BATCH_SIZE,
    THROUGHPUT,
)
