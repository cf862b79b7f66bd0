/// Namespace of the ForesightWire module.
public enum ForesightWire {}
