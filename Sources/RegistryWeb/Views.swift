import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import RegistryDomain
import Mustache
import NIOCore
import RegistryStorage

/// The templates (`Resources/templates/*.mustache`), the message catalogues and the static files,
/// loaded once at start; and the one place a page is rendered, with what every page shows (its
/// language and the switch, the signed-in person, the CSRF token, the navigation for their role).
public struct Views: Sendable {
    let library: MustacheLibrary
    public let catalogue: Catalogue
    /// Each language's messages as the templates' `t`, made once.
    let strings: [Language: TemplateNode]
    /// The row templates (`*-row.mustache`), by name.
    let rows: [String: RowTemplate]
    let statics: [String: (type: String, body: ByteBuffer, etag: String)]

    /// Loads everything from the module's resources.
    public static func load() throws -> Views {
        // `.copy("Resources")`: the folder itself is the resource, found by name in the module's bundle.
        guard let root = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw RegistryWebError.missingResources
        }
        return try Views(root: root)
    }

    init(root: URL) throws {
        var library = MustacheLibrary()
        var rows: [String: RowTemplate] = [:]
        MustacheContentTypes.register(FastHTMLContentType(), named: FastHTMLContentType.name)
        let templates = root.appendingPathComponent("templates")
        for name in try FileManager.default.contentsOfDirectory(atPath: templates.path) where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: templates.appendingPathComponent(name), encoding: .utf8)
            let key = String(name.dropLast(".mustache".count))
            try library.register("{{% CONTENT_TYPE: \(FastHTMLContentType.name)}}" + text, named: key)
            if key.hasSuffix("-row") { rows[key] = try RowTemplate(text, name: name) }
        }
        self.rows = rows
        self.library = library
        self.catalogue = try Catalogue(directory: root.appendingPathComponent("messages"))
        self.strings = catalogue.strings.mapValues { TemplateNode($0) }
        var statics: [String: (String, ByteBuffer, String)] = [:]
        let staticDirectory = root.appendingPathComponent("static")
        for name in try FileManager.default.contentsOfDirectory(atPath: staticDirectory.path) {
            let data = try Data(contentsOf: staticDirectory.appendingPathComponent(name))
            let type = name.hasSuffix(".css") ? "text/css; charset=utf-8" : name.hasSuffix(".js") ? "text/javascript; charset=utf-8"
                : name.hasSuffix(".svg") ? "image/svg+xml" : "application/octet-stream"
            let etag = "\"" + Hex.string(SHA256.hash(data: data).prefix(8)) + "\""
            statics[name] = (type, ByteBuffer(bytes: data), etag)
        }
        self.statics = statics
    }

    /// The rows of a long table, each `template` (a row template) rendered with its values, as
    /// one HTML string for the page's `{{{NAME_html}}}`.
    func rows(_ template: String, _ values: [[String: RowTemplate.Value]], language: Language) -> String {
        guard let row = rows[template] else { return "row template \(template) is missing" }
        let messages = catalogue.strings[language] ?? [:]
        var out = ""
        out.reserveCapacity(values.count * 1_200)
        for value in values { row.render(value, messages: messages, into: &out) }
        return out
    }

    /// A page: `template` rendered with `values` and what every page shows.
    func page(_ template: String, title: String, _ values: [String: Any], request: Request, context: WebContext,
              session: WebSession?, status: HTTPResponse.Status = .ok) -> Response {
        let language = context.language
        var data = values
        data["t"] = strings[language] ?? TemplateNode([:])
        data["lang"] = language.rawValue
        data["title"] = catalogue.text(title, language)
        data["switch_name"] = language.other.ownName
        data["switch_href"] = "/app/language?to=\(language.other.rawValue)&back=\(Self.queryEscaped(Self.back(request)))"
        data["switch_lang"] = language.other.rawValue
        if let session {
            data["signed_in"] = true
            data["csrf"] = session.csrfToken
            data["me"] = TemplateNode.make([
                "username": session.user.username,
                "role": catalogue.text("role_\(session.user.role.rawValue)", language),
                "institution": session.user.institutionCode as Any,
            ])
            data["nav"] = Self.navigation(for: session.user.role).map { item in
                ["href": item.href, "label": catalogue.text(item.key, language), "current": request.uri.path.hasPrefix(item.href)] as [String: Any]
            }
        }
        let html = library.render(TemplateNode.make(data), withTemplate: template) ?? "template \(template) is missing"
        return Self.html(html, status: status)
    }

    /// An HTML response that no cache keeps.
    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A redirect after a form (303: the browser follows it with GET).
    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// A static file, cached by the browser and revalidated by ETag.
    func staticFile(_ name: String, request: Request) -> Response? {
        guard let file = statics[name] else { return nil }
        if request.headers[.ifNoneMatch] == file.etag {
            return Response(status: .notModified, headers: [.eTag: file.etag])
        }
        return Response(status: .ok, headers: [.contentType: file.type, .eTag: file.etag, .cacheControl: "no-cache"],
                        body: .init(byteBuffer: file.body))
    }

    /// The pages of each role's navigation, in order.
    static func navigation(for role: UserRole) -> [(href: String, key: String)] {
        switch role {
        case .coordinator: [("/app/worklist", "nav_worklist"), ("/app/patients", "nav_patients"), ("/app/patients/new", "nav_enrol"), ("/app/lost-proposals", "nav_lost")]
        case .regulator: [("/app/reports", "nav_reports"), ("/app/safety-listing", "nav_listing")]
        case .admin: [("/app/admin/users", "nav_users"), ("/app/admin/registry", "nav_registry"), ("/app/reports", "nav_reports"), ("/app/safety-listing", "nav_listing")]
        }
    }

    /// Where the language switch returns to: this page, when it is a GET of the application.
    static func back(_ request: Request) -> String {
        guard request.method == .get else { return "/app/" }
        return request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
    }

    static func queryEscaped(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=?+")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "/app/"
    }
}

enum RegistryWebError: Error, CustomStringConvertible {
    case missingResources
    var description: String { "the web application's templates are missing from the build (Resources of RegistryWeb)" }
}
