import ArgumentParser
import RegistryDomain

struct ProductCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "product", abstract: "Advanced regenerative products.", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a product.", discussion: """
            The modality sets the follow-up class: somatic-cell, stem-cell and tissue-engineered 5 years;
            gene-therapy and genome-editing 15 years; xenogeneic 30 years. Minimally manipulated cells
            (e.g. cord blood) are outside the Act and refused.

            Example:
              registry product add --code GT-01 --name "Example AAV vector" --manufacturer "Example Bio" --modality gene-therapy
            """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Product code (e.g. GT-01).") var code: String
        @Option(help: "Product name.") var name: String
        @Option(help: "Manufacturer.") var manufacturer: String
        @Option(help: "somatic-cell, stem-cell, gene-therapy, genome-editing, tissue-engineered or xenogeneic.") var modality: String

        func run() async throws {
            try await CommandContext.run(global) { ctx in
                let new = try NewProduct(code: code, name: name, manufacturer: manufacturer, modality: modality)
                let product = try await ctx.write { tx in try await tx.products.add(new) }
                try ctx.emit(product) { "product \(product.code) added (id \(product.id)), followed \(product.followUpYears) years" }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List products.", discussion: "Example:\n  registry product list")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await CommandContext.run(global, reach: .site) { ctx in
                let all = try await ctx.read { tx in try await tx.products.all() }
                try ctx.emit(all) {
                    table(["CODE", "NAME", "MANUFACTURER", "MODALITY", "FOLLOW-UP"],
                          all.map { [$0.code, $0.name, $0.manufacturer, $0.modality.rawValue, "\($0.followUpYears) years"] })
                }
            }
        }
    }
}
