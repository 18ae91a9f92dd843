// The upstream a gateway fronts: a SageMaker managed MLflow (signed) or a self-hosted MLflow server.
import type { SageMakerBackend } from './sagemaker.ts';
import type { PlainMlflowBackend } from './mlflow.ts';

export type Backend = SageMakerBackend | PlainMlflowBackend;
