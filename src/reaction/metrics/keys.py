"""Every metric key the project logs, in one place (``stage/name``), so reports and tests agree."""

TRAIN_LOSS = "train/loss"
VAL_AUC = "val/auc"
VAL_LOGLOSS = "val/logloss"
TEST_AUC = "test/auc"
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
BAYES_AUC = "bayes_auc"

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
