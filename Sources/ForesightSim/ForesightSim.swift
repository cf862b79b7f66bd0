/// Namespace of the ForesightSim module.
public enum ForesightSim {}
