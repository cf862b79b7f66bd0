/// Namespace of the ForesightPreprocess module.
public enum ForesightPreprocess {}
