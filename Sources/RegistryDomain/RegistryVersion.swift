/// The registry software's version, which every front end can show and every report carries
/// together with the schema version of the database it read.
public enum RegistryVersion {
    /// Semantic version of this build of the registry.
    public static let software = "0.5.0"
}
