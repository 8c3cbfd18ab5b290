using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Stratus.Ml.Data;

using Stratus.Server.Kernel;

namespace Stratus.Server.Hosting;

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
            Storage.CorruptBlobException c => (500, "Stored data is corrupt", $"{c.Message} Nothing of it was served; the error is in the server's log.", null),
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
