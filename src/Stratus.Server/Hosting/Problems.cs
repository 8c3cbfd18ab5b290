using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Stratus.Ml.Data;

namespace Stratus.Server.Hosting;

/// <summary>An error a client caused or must know about; mapped to a ProblemDetails answer in one place (<see cref="ProblemExceptionHandler"/>).</summary>
public sealed class ProblemException(int status, string title, string detail, string? field = null) : Exception(detail)
{
    public int Status { get; } = status;
    public string Title { get; } = title;
    public string? Field { get; } = field;

    /// <summary>For a 400 about one field (<see cref="Invalid"/>): what is wrong with it, without the field's name.</summary>
    public string? Reason { get; init; }

    /// <summary>Seconds after which the client may try again (sent as <c>Retry-After</c>).</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>What is wrong with each bad item of a request with several, by field (written as <c>errors</c>).</summary>
    public IReadOnlyDictionary<string, string>? Errors { get; init; }

    /// <summary>429: too many requests right now; try again after <paramref name="seconds"/>.</summary>
    public static ProblemException TooMany(string message, int seconds) => new(429, "Too many requests", message) { RetryAfterSeconds = seconds };

    public static ProblemException NotFound(string what) => new(404, "Not found", $"{what} does not exist");

    public static ProblemException Invalid(string field, string message) => new(400, "Invalid request", $"{field}: {message}", field) { Reason = message };

    public static ProblemException Conflict(string message) => new(409, "Conflict", message);

    /// <summary>Throws 400 when <paramref name="name"/> is not a valid resource name.</summary>
    public static string CheckName(string field, string? name) =>
        Names.Validate(name) is { } error ? throw Invalid(field, $"'{name}' {error}") : name!;
}

/// <summary>Maps exceptions to ProblemDetails: client errors name the field at fault; anything else is a 500 without internals.</summary>
internal sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail, field) = exception switch
        {
            ProblemException p => (p.Status, p.Title, p.Message, p.Field),
            DataFormatException d => (400, "Invalid data file", d.Message, d.ColumnName),
            BadHttpRequestException { InnerException: JsonException j } => (400, "Invalid JSON", JsonMessage(j), JsonField(j)),
            BadHttpRequestException b when b.StatusCode == 413 => (413, "Request too large", b.Message, null),
            BadHttpRequestException b => (b.StatusCode, "Bad request", b.Message, null),
            OperationCanceledException when context.RequestAborted.IsCancellationRequested => (499, "Client closed request", "the client went away", null),
            Storage.BlobStoreUnavailableException s => (503, "Service unavailable", $"{s.Message}; nothing was stored, try again shortly", null),
            _ when Storage.MetadataDatabase.IsUnavailable(exception) => (503, "Service unavailable", "the metadata database cannot be reached right now; nothing was changed, try again shortly", null),
            _ => (500, "Internal server error", "the server failed to answer; the error is in its log", null),
        };
        if (status == 503) LogUnavailable(logger, context.Request.Method, context.Request.Path, exception.GetBaseException().Message);
        else if (status >= 500 && exception is not ProblemException) LogUnhandled(logger, exception, context.Request.Method, context.Request.Path);
        if (context.Response.HasStarted) return true;
        context.Response.StatusCode = status;
        if (exception is ProblemException { RetryAfterSeconds: { } retry }) context.Response.Headers.RetryAfter = retry.ToString(System.Globalization.CultureInfo.InvariantCulture);
        else if (status == 503) context.Response.Headers.RetryAfter = "5";
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (field is not null) problem.Extensions["field"] = field;
        if (exception is ProblemException { Errors: { Count: > 0 } errors }) problem.Extensions["errors"] = errors;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }

    private static string? JsonField(JsonException j) => j.Path is { Length: > 1 } path ? path.TrimStart('$', '.') : null;

    private static string JsonMessage(JsonException j) =>
        j.Path is { Length: > 1 } path
            ? $"the value at '{path.TrimStart('$', '.')}' is not valid: {Clean(j.Message)}"
            : $"the body is not valid JSON: {Clean(j.Message)}";

    private static string Clean(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Answered {Method} {Path} with 503: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string method, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error answering {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);
}

/// <summary>Page tokens are offsets, opaque to clients.</summary>
internal static class Paging
{
    public const int DefaultSize = 50;
    public const int MaxSize = 1000;

    public static (int Offset, int Size) Parse(int? pageSize, string? pageToken)
    {
        var size = pageSize ?? DefaultSize;
        if (size is < 1 or > MaxSize) throw ProblemException.Invalid("page_size", $"must be between 1 and {MaxSize}");
        var offset = 0;
        if (!string.IsNullOrEmpty(pageToken) && (!int.TryParse(pageToken, out offset) || offset < 0))
            throw ProblemException.Invalid("page_token", "is not a token this server issued");
        return (offset, size);
    }

    /// <summary>Builds a page from up to size+1 fetched items.</summary>
    public static Page<T> Build<T>(List<T> fetched, int offset, int size) =>
        fetched.Count > size
            ? new Page<T>(fetched[..size], (offset + size).ToString(System.Globalization.CultureInfo.InvariantCulture))
            : new Page<T>(fetched, null);
}

internal static class JsonColumns
{
    public static string Write(IReadOnlyDictionary<string, string>? tags) =>
        JsonSerializer.Serialize(tags is null ? new Dictionary<string, string>() : new Dictionary<string, string>(tags), StratusJsonContext.Default.DictionaryStringString);

    public static Dictionary<string, string> ReadTags(string json) =>
        JsonSerializer.Deserialize(json, StratusJsonContext.Default.DictionaryStringString) ?? [];
}
