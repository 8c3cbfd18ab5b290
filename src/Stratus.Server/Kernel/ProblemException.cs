namespace Stratus.Server.Kernel;

/// <summary>An error a client caused or must know about; mapped to a ProblemDetails answer in one place (<see cref="Hosting.ProblemExceptionHandler"/>).</summary>
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
