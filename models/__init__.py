"""Keras 3 models (DeepFM, BERT4Rec, recall), metrics and the model registry."""
