using System.Globalization;

namespace Stratus.Server.WebConsole;

/// <summary>How the console words runs and jobs: short ids, durations, what came of a job.</summary>
internal static class ConsoleText
{
    /// <summary>The last 8 characters of a run or job id: ids begin with their time, so their ends tell them apart.</summary>
    public static string Short(string id) => id.Length > 8 ? id[^8..] : id;

    public static string Duration(JobInfo job) => job.StartedAt is { } started ? Span((job.EndedAt ?? DateTimeOffset.UtcNow) - started) : "";

    public static string Span(TimeSpan span) =>
        span.TotalHours >= 1 ? $"{(int)span.TotalHours} h {span.Minutes} min" : span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes} min {span.Seconds} s" : $"{span.TotalSeconds:F1} s";

    public static string Outcome(JobInfo job) => job switch
    {
        { Error: { } error } => error,
        { Result: { Model: { } model } result } => $"{model.Name}:{model.Version} · {Metrics(result.Metrics)}",
        { Result: { } result } => Metrics(result.Metrics),
        { Batch: { } batch } => $"{batch.Rows:N0} rows into {batch.Output}",
        _ => "",
    };

    private static string Metrics(IReadOnlyDictionary<string, double> metrics) =>
        string.Join(", ", metrics.OrderBy(m => m.Key, StringComparer.Ordinal).Take(3).Select(m => $"{m.Key} {m.Value.ToString("G4", CultureInfo.InvariantCulture)}"));
}
