/// Namespace of the ForesightInference module.
public enum ForesightInference {}
