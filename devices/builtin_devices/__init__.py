"""Built-in device declarations (YAML). A package so that wheels ship the files."""
