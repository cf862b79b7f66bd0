/// Namespace of the ForesightSync module.
public enum ForesightSync {}
