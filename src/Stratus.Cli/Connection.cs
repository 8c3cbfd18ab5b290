using System.Text.Json;
using Stratus.Client;
using Stratus.Server.Storage;
using Stratus.Server.Security;

namespace Stratus.Cli;

/// <summary>Where the server is and which token to present, found in this order: flags, <c>STRATUS_URL</c>/<c>STRATUS_TOKEN</c>, the saved login, the local server's files.</summary>
internal sealed record Connection(string Url, string Token)
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    public static string Home => StorageSettings.DefaultDataDir();

    public static string CredentialsPath => Path.Combine(Home, "credentials.json");

    public static Connection Resolve(string? url, string? token)
    {
        url ??= Environment.GetEnvironmentVariable("STRATUS_URL");
        token ??= Environment.GetEnvironmentVariable("STRATUS_TOKEN");
        if (url is null || token is null)
        {
            var saved = ReadJson(CredentialsPath);
            if (saved is not null && (url is null || url == saved.GetValueOrDefault("url")))
            {
                url ??= saved.GetValueOrDefault("url");
                token ??= saved.GetValueOrDefault("token");
            }
        }
        if (token is null)
        {
            // A server on this machine: its data directory holds the URL it bound and the admin token.
            url ??= ReadJson(Path.Combine(Home, "server.json"))?.GetValueOrDefault("url");
            var adminToken = Path.Combine(Home, "admin.token");
            if (File.Exists(adminToken)) token = File.ReadAllText(adminToken).Trim();
        }
        url ??= DefaultUrl;
        return token is { Length: > 0 }
            ? new Connection(url, token)
            : throw new InvalidOperationException($"no token for {url}: run `stratus login --url {url} --token <token>`, set STRATUS_TOKEN, or start a local server with `stratus up`");
    }

    public StratusClient CreateClient() => StratusClient.Create(Url, Token);

    public static void Save(string url, string token)
    {
        Directory.CreateDirectory(Home);
        var values = new Dictionary<string, string> { ["url"] = url, ["token"] = token };
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
