/// Namespace of the ForesightDaemon module.
public enum ForesightDaemon {}
