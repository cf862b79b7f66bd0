/// Namespace of the ForesightPredict module.
public enum ForesightPredict {}
