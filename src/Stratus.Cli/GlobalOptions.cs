using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Spectre.Console;
using Stratus.Client;

namespace Stratus.Cli;

/// <summary>Options every command takes, and how a command reaches the server.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> Url = new("--url") { Description = "Server URL (default: STRATUS_URL, the login, or the local server)", Recursive = true };
    public static readonly Option<string?> Token = new("--token") { Description = "API token (default: STRATUS_TOKEN, the login, or the local admin token)", Recursive = true };
    public static readonly Option<string?> Project = new("--project", "-p")
    {
        Description = "The project to work in (default: STRATUS_PROJECT, else the token's own project, else 'default')", Recursive = true,
    };
    public static readonly Option<string> Output = new("--output", "-o") { Description = "table or json", DefaultValueFactory = _ => "table", Recursive = true };

    static GlobalOptions() => Output.AcceptOnlyFromAmong("table", "json");

    public static void AddTo(RootCommand root)
    {
        root.Options.Add(Url);
        root.Options.Add(Token);
        root.Options.Add(Project);
        root.Options.Add(Output);
    }

    public static bool Json(ParseResult result) => result.GetValue(Output) == "json";

    /// <summary>Runs a command against the server, turning API and connection errors into one clear line on stderr.</summary>
    public static Func<ParseResult, CancellationToken, Task<int>> Remote(Func<ParseResult, StratusClient, CancellationToken, Task> action) =>
        async (result, ct) =>
        {
            Connection connection;
            try
            {
                connection = Connection.Resolve(result.GetValue(Url), result.GetValue(Token), result.GetValue(Project));
            }
            catch (InvalidOperationException ex)
            {
                return Fail(ex.Message);
            }
            try
            {
                await action(result, connection.CreateClient(), ct);
                return 0;
            }
            catch (StratusApiException ex)
            {
                var message = ex.Detail.Length > 0 ? $"{ex.Detail} ({(int)ex.Status} {ex.Title})" : $"{(int)ex.Status} {ex.Title}";
                // A request of many items names each bad one; the first twenty are enough to act on.
                var items = ex.Errors.Take(20).Select(e => $"\n  {e.Key}: {e.Value}");
                return Fail(message + string.Concat(items) + (ex.Errors.Count > 20 ? $"\n  ... and {ex.Errors.Count - 20} more" : ""));
            }
            catch (HttpRequestException ex)
            {
                return Fail(Unreachable(connection.Url, ex));
            }
            catch (Exception ex) when (ex is IOException or ArgumentException or InvalidDataException or UnauthorizedAccessException or System.Text.Json.JsonException)
            {
                return Fail(ex.Message);
            }
        };

    /// <summary>Why a server could not be reached, and what to do: an untrusted certificate is not a server that is down.</summary>
    public static string Unreachable(string url, HttpRequestException ex) =>
        ex.InnerException is System.Security.Authentication.AuthenticationException
            ? $"cannot reach Stratus at {url}: its certificate is not trusted; pass its SHA-256 fingerprint (stratus login --url {url} --fingerprint ..., or STRATUS_FINGERPRINT), which `stratus up --tls` prints"
            : $"cannot reach Stratus at {url}: {ex.Message} (is `stratus up` running?)";

    public static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 1;
    }

    /// <summary>Writes one JSON document (for scripts) or a human rendering.</summary>
    public static void Print<T>(ParseResult result, T value, JsonTypeInfo<T> type, Action<T> human)
    {
        if (Json(result)) Console.WriteLine(JsonSerializer.Serialize(value, type));
        else human(value);
    }

    public static Table NewTable(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var c in columns) table.AddColumn(new TableColumn(c));
        return table;
    }

    public static string Esc(object? value) => Markup.Escape(value?.ToString() ?? "");

    public static string When(DateTimeOffset? time) => time?.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) ?? "";

    public static string Dict(IReadOnlyDictionary<string, string> values) => string.Join(", ", values.Select(kv => $"{kv.Key}={kv.Value}"));

    public static void PageHint(string? nextPageToken)
    {
        if (nextPageToken is not null) AnsiConsole.MarkupLine($"[grey]more: --page-token {nextPageToken}[/]");
    }

    /// <summary>
    /// A metric series as a one-line chart (▁ lowest to █ highest, at most <paramref name="width"/> characters, each the
    /// mean of its share of the points), then its first and last values: a learning curve at a glance in a terminal.
    /// </summary>
    public static string Sparkline(IReadOnlyList<double> values, int width = 40)
    {
        const string bars = "▁▂▃▄▅▆▇█";
        if (values.Count == 0) return "";
        var buckets = Math.Min(width, values.Count);
        var means = Enumerable.Range(0, buckets)
            .Select(b => values.Skip(b * values.Count / buckets).Take(Math.Max(1, (b + 1) * values.Count / buckets - b * values.Count / buckets)).Average())
            .ToList();
        var (min, max) = (means.Min(), means.Max());
        var line = string.Concat(means.Select(m => bars[max > min ? (int)Math.Round((m - min) / (max - min) * (bars.Length - 1)) : 0]));
        return $"{line} {values[0].ToString("F4", System.Globalization.CultureInfo.InvariantCulture)} → {values[^1].ToString("F4", System.Globalization.CultureInfo.InvariantCulture)}";
    }
}
