"""Exporters (ONNX, TFLite, TensorRT) and their validation against PyTorch."""
