/// The OMOP CDM 5.4 tables the extract fills, as the specification defines them (OHDSI
/// CommonDataModel, inst/ddl/5.4/postgresql: column names, order, types, NOT NULLs, primary and
/// foreign keys). One definition serves the CSV headers, the COPY column lists and the DDL.
///
/// Foreign keys to the vocabulary (every `*_concept_id` → `concept`) are left out: without the
/// vocabulary tables they cannot hold, and concept 0 has no row. So are those to tables the
/// registry has nothing for (`provider`, `care_site`, `location`, `visit_detail`). The keys among
/// the clinical tables filled here are kept.
public enum OmopSchema {
    /// One column: its CDM name, PostgreSQL type and whether it is NOT NULL.
    public struct Column: Sendable, Equatable {
        public var name: String
        public var type: String
        public var required: Bool
    }

    /// A foreign key among the tables filled here, named as the OHDSI constraints file names it.
    public struct ForeignKey: Sendable, Equatable {
        public var name: String
        public var table: String
        public var column: String
        public var references: String
        public var referencedColumn: String
    }

    /// One CDM table.
    public struct Table: Sendable, Equatable {
        public var name: String
        public var columns: [Column]
        /// The primary key's column, where the CDM gives the table one (death, episode_event and
        /// cdm_source have none).
        public var primaryKey: String?

        public var columnNames: [String] { columns.map(\.name) }

        /// `CREATE TABLE name (...)`, unqualified: the loader sets the search path to the target schema.
        public var createStatement: String {
            let body = columns.map { "    \($0.name) \($0.type)\($0.required ? " NOT NULL" : " NULL")" }.joined(separator: ",\n")
            return "CREATE TABLE \(name) (\n\(body)\n)"
        }
    }

    private static func table(_ name: String, key: String? = nil, _ columns: [(String, String, Bool)]) -> Table {
        Table(name: name, columns: columns.map { Column(name: $0.0, type: $0.1, required: $0.2) }, primaryKey: key)
    }

    private static let int = "integer", date = "date", ts = "timestamp", num = "numeric", text = "text"
    private static func varchar(_ n: Int) -> String { "varchar(\(n))" }

    public static let person = table("person", key: "person_id", [
        ("person_id", int, true), ("gender_concept_id", int, true), ("year_of_birth", int, true), ("month_of_birth", int, false),
        ("day_of_birth", int, false), ("birth_datetime", ts, false), ("race_concept_id", int, true), ("ethnicity_concept_id", int, true),
        ("location_id", int, false), ("provider_id", int, false), ("care_site_id", int, false), ("person_source_value", varchar(50), false),
        ("gender_source_value", varchar(50), false), ("gender_source_concept_id", int, false), ("race_source_value", varchar(50), false),
        ("race_source_concept_id", int, false), ("ethnicity_source_value", varchar(50), false), ("ethnicity_source_concept_id", int, false),
    ])

    public static let observationPeriod = table("observation_period", key: "observation_period_id", [
        ("observation_period_id", int, true), ("person_id", int, true), ("observation_period_start_date", date, true),
        ("observation_period_end_date", date, true), ("period_type_concept_id", int, true),
    ])

    public static let visitOccurrence = table("visit_occurrence", key: "visit_occurrence_id", [
        ("visit_occurrence_id", int, true), ("person_id", int, true), ("visit_concept_id", int, true), ("visit_start_date", date, true),
        ("visit_start_datetime", ts, false), ("visit_end_date", date, true), ("visit_end_datetime", ts, false), ("visit_type_concept_id", int, true),
        ("provider_id", int, false), ("care_site_id", int, false), ("visit_source_value", varchar(50), false), ("visit_source_concept_id", int, false),
        ("admitted_from_concept_id", int, false), ("admitted_from_source_value", varchar(50), false), ("discharged_to_concept_id", int, false),
        ("discharged_to_source_value", varchar(50), false), ("preceding_visit_occurrence_id", int, false),
    ])

    public static let conditionOccurrence = table("condition_occurrence", key: "condition_occurrence_id", [
        ("condition_occurrence_id", int, true), ("person_id", int, true), ("condition_concept_id", int, true), ("condition_start_date", date, true),
        ("condition_start_datetime", ts, false), ("condition_end_date", date, false), ("condition_end_datetime", ts, false),
        ("condition_type_concept_id", int, true), ("condition_status_concept_id", int, false), ("stop_reason", varchar(20), false),
        ("provider_id", int, false), ("visit_occurrence_id", int, false), ("visit_detail_id", int, false), ("condition_source_value", varchar(50), false),
        ("condition_source_concept_id", int, false), ("condition_status_source_value", varchar(50), false),
    ])

    public static let drugExposure = table("drug_exposure", key: "drug_exposure_id", [
        ("drug_exposure_id", int, true), ("person_id", int, true), ("drug_concept_id", int, true), ("drug_exposure_start_date", date, true),
        ("drug_exposure_start_datetime", ts, false), ("drug_exposure_end_date", date, true), ("drug_exposure_end_datetime", ts, false),
        ("verbatim_end_date", date, false), ("drug_type_concept_id", int, true), ("stop_reason", varchar(20), false), ("refills", int, false),
        ("quantity", num, false), ("days_supply", int, false), ("sig", text, false), ("route_concept_id", int, false), ("lot_number", varchar(50), false),
        ("provider_id", int, false), ("visit_occurrence_id", int, false), ("visit_detail_id", int, false), ("drug_source_value", varchar(50), false),
        ("drug_source_concept_id", int, false), ("route_source_value", varchar(50), false), ("dose_unit_source_value", varchar(50), false),
    ])

    public static let measurement = table("measurement", key: "measurement_id", [
        ("measurement_id", int, true), ("person_id", int, true), ("measurement_concept_id", int, true), ("measurement_date", date, true),
        ("measurement_datetime", ts, false), ("measurement_time", varchar(10), false), ("measurement_type_concept_id", int, true),
        ("operator_concept_id", int, false), ("value_as_number", num, false), ("value_as_concept_id", int, false), ("unit_concept_id", int, false),
        ("range_low", num, false), ("range_high", num, false), ("provider_id", int, false), ("visit_occurrence_id", int, false),
        ("visit_detail_id", int, false), ("measurement_source_value", varchar(50), false), ("measurement_source_concept_id", int, false),
        ("unit_source_value", varchar(50), false), ("unit_source_concept_id", int, false), ("value_source_value", varchar(50), false),
        ("measurement_event_id", int, false), ("meas_event_field_concept_id", int, false),
    ])

    public static let observation = table("observation", key: "observation_id", [
        ("observation_id", int, true), ("person_id", int, true), ("observation_concept_id", int, true), ("observation_date", date, true),
        ("observation_datetime", ts, false), ("observation_type_concept_id", int, true), ("value_as_number", num, false),
        ("value_as_string", varchar(60), false), ("value_as_concept_id", int, false), ("qualifier_concept_id", int, false),
        ("unit_concept_id", int, false), ("provider_id", int, false), ("visit_occurrence_id", int, false), ("visit_detail_id", int, false),
        ("observation_source_value", varchar(50), false), ("observation_source_concept_id", int, false), ("unit_source_value", varchar(50), false),
        ("qualifier_source_value", varchar(50), false), ("value_source_value", varchar(50), false), ("observation_event_id", int, false),
        ("obs_event_field_concept_id", int, false),
    ])

    public static let death = table("death", [
        ("person_id", int, true), ("death_date", date, true), ("death_datetime", ts, false), ("death_type_concept_id", int, false),
        ("cause_concept_id", int, false), ("cause_source_value", varchar(50), false), ("cause_source_concept_id", int, false),
    ])

    public static let episode = table("episode", key: "episode_id", [
        ("episode_id", int, true), ("person_id", int, true), ("episode_concept_id", int, true), ("episode_start_date", date, true),
        ("episode_start_datetime", ts, false), ("episode_end_date", date, false), ("episode_end_datetime", ts, false),
        ("episode_parent_id", int, false), ("episode_number", int, false), ("episode_object_concept_id", int, true),
        ("episode_type_concept_id", int, true), ("episode_source_value", varchar(50), false), ("episode_source_concept_id", int, false),
    ])

    public static let episodeEvent = table("episode_event", [
        ("episode_id", int, true), ("event_id", int, true), ("episode_event_field_concept_id", int, true),
    ])

    public static let cdmSource = table("cdm_source", [
        ("cdm_source_name", varchar(255), true), ("cdm_source_abbreviation", varchar(25), true), ("cdm_holder", varchar(255), true),
        ("source_description", text, false), ("source_documentation_reference", varchar(255), false), ("cdm_etl_reference", varchar(255), false),
        ("source_release_date", date, true), ("cdm_release_date", date, true), ("cdm_version", varchar(10), false),
        ("cdm_version_concept_id", int, true), ("vocabulary_version", varchar(20), true),
    ])

    /// Every table filled, in load order (a table after those it refers to).
    public static let tables: [Table] = [person, observationPeriod, visitOccurrence, conditionOccurrence, drugExposure, measurement,
                                         observation, death, episode, episodeEvent, cdmSource]

    /// The foreign keys kept: those among the clinical tables filled here, as the CDM 5.4
    /// constraints file names them.
    public static let foreignKeys: [ForeignKey] = {
        func fk(_ table: String, _ column: String, _ references: String, _ referenced: String) -> ForeignKey {
            ForeignKey(name: "fpk_\(table)_\(column)", table: table, column: column, references: references, referencedColumn: referenced)
        }
        return [
            fk("observation_period", "person_id", "person", "person_id"),
            fk("visit_occurrence", "person_id", "person", "person_id"),
            fk("visit_occurrence", "preceding_visit_occurrence_id", "visit_occurrence", "visit_occurrence_id"),
            fk("condition_occurrence", "person_id", "person", "person_id"),
            fk("condition_occurrence", "visit_occurrence_id", "visit_occurrence", "visit_occurrence_id"),
            fk("drug_exposure", "person_id", "person", "person_id"),
            fk("drug_exposure", "visit_occurrence_id", "visit_occurrence", "visit_occurrence_id"),
            fk("measurement", "person_id", "person", "person_id"),
            fk("measurement", "visit_occurrence_id", "visit_occurrence", "visit_occurrence_id"),
            fk("observation", "person_id", "person", "person_id"),
            fk("observation", "visit_occurrence_id", "visit_occurrence", "visit_occurrence_id"),
            fk("death", "person_id", "person", "person_id"),
            fk("episode", "person_id", "person", "person_id"),
            fk("episode", "episode_parent_id", "episode", "episode_id"),
            fk("episode_event", "episode_id", "episode", "episode_id"),
        ]
    }()

    /// `ALTER TABLE ... ADD CONSTRAINT xpk_T PRIMARY KEY (...)` for a table with a key.
    static func primaryKeyStatement(_ table: Table) -> (name: String, sql: String)? {
        table.primaryKey.map { ("xpk_\(table.name)", "ALTER TABLE \(table.name) ADD CONSTRAINT xpk_\(table.name) PRIMARY KEY (\($0))") }
    }

    static func foreignKeyStatement(_ fk: ForeignKey) -> String {
        "ALTER TABLE \(fk.table) ADD CONSTRAINT \(fk.name) FOREIGN KEY (\(fk.column)) REFERENCES \(fk.references) (\(fk.referencedColumn))"
    }
}
