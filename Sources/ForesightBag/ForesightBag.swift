/// Namespace of the ForesightBag module.
public enum ForesightBag {}
