/// Namespace of the ForesightBus module.
public enum ForesightBus {}
