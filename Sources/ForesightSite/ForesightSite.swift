/// Namespace of the ForesightSite module.
public enum ForesightSite {}
