"""The model zoo: the whole chain (supernet -> LUTs -> accuracy predictor -> search -> export) per device."""
