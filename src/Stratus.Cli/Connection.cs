using System.Text.Json;
using Stratus.Client;
using Stratus.Server.Storage;
using Stratus.Server.Security;

namespace Stratus.Cli;

/// <summary>
/// Where the server is and which token to present, found in this order: flags, <c>STRATUS_URL</c>/<c>STRATUS_TOKEN</c>,
/// the saved login, the local server's files; with the fingerprint of a certificate to trust that no authority vouches
/// for (<c>STRATUS_FINGERPRINT</c>, the saved login's, or the local server's own).
/// </summary>
/// <param name="Project">The project requests work in: <c>--project</c>, else <c>STRATUS_PROJECT</c>, else the token's own or <c>default</c> (the server decides).</param>
internal sealed record Connection(string Url, string Token, string? Fingerprint = null, string? Project = null)
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    public static string Home => StorageSettings.DefaultDataDir();

    public static string CredentialsPath => Path.Combine(Home, "credentials.json");

    public static Connection Resolve(string? url, string? token, string? project = null)
    {
        project ??= Environment.GetEnvironmentVariable("STRATUS_PROJECT") is { Length: > 0 } named ? named : null;
        if (project is not null && Names.Validate(project) is { } error) throw new InvalidOperationException($"--project (STRATUS_PROJECT) '{project}' {error}");
        url ??= Environment.GetEnvironmentVariable("STRATUS_URL");
        token ??= Environment.GetEnvironmentVariable("STRATUS_TOKEN");
        var fingerprint = Environment.GetEnvironmentVariable("STRATUS_FINGERPRINT");
        var saved = ReadJson(CredentialsPath);
        if (saved is not null && (url is null || url == saved.GetValueOrDefault("url")))
        {
            url ??= saved.GetValueOrDefault("url");
            token ??= saved.GetValueOrDefault("token");
            fingerprint ??= saved.GetValueOrDefault("fingerprint");
        }
        // A server on this machine: its data directory holds the URL it bound, its certificate's fingerprint and the admin token.
        var local = ReadJson(Path.Combine(Home, "server.json"));
        if (token is null)
        {
            url ??= local?.GetValueOrDefault("url");
            var adminToken = Path.Combine(Home, "admin.token");
            if (File.Exists(adminToken)) token = File.ReadAllText(adminToken).Trim();
        }
        url ??= DefaultUrl;
        if (local is not null && url == local.GetValueOrDefault("url")) fingerprint ??= local.GetValueOrDefault("fingerprint");
        return token is { Length: > 0 }
            ? new Connection(url, token, fingerprint, project)
            : throw new InvalidOperationException($"no token for {url}: run `stratus login --url {url} --token <token>`, set STRATUS_TOKEN, or start a local server with `stratus up`");
    }

    public StratusClient CreateClient() => StratusClient.Create(Url, Token, fingerprint: Fingerprint, project: Project);

    public static void Save(string url, string token, string? fingerprint)
    {
        Directory.CreateDirectory(Home);
        var values = new Dictionary<string, string> { ["url"] = url, ["token"] = token };
        if (fingerprint is not null) values["fingerprint"] = fingerprint;
        SecretFile.Write(CredentialsPath, JsonSerializer.Serialize(values, StratusJsonContext.Default.DictionaryStringString));
    }

    private static Dictionary<string, string>? ReadJson(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllText(path), StratusJsonContext.Default.DictionaryStringString) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
