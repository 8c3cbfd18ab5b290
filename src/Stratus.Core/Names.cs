using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Stratus;

/// <summary>Validation of the names clients give to resources (datasets, models, experiments, artifact paths).</summary>
/// <remarks>
/// Names are database keys, never file-system paths; they are still kept to a safe alphabet so that a name can
/// appear in a URL, a shell command or a log line without quoting, and so that traversal-looking input is refused
/// early with a clear message instead of being stored.
/// </remarks>
public static class Names
{
    /// <summary>The longest resource name accepted.</summary>
    public const int MaxLength = 128;

    /// <summary>The longest artifact path accepted.</summary>
    public const int MaxPathLength = 512;

    private static readonly SearchValues<char> NameChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

    /// <summary>Checks a resource name: 1-128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit.</summary>
    /// <returns><see langword="null"/> when valid, otherwise a message saying what is wrong.</returns>
    public static string? Validate(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "must not be empty";
        if (name.Length > MaxLength) return $"must be at most {MaxLength} characters";
        if (!char.IsAsciiLetterOrDigit(name[0])) return "must start with a letter or digit";
        var bad = name.AsSpan().IndexOfAnyExcept(NameChars);
        if (bad >= 0) return $"contains '{Printable(name[bad])}' at position {bad + 1}; only letters, digits, '.', '_' and '-' are allowed";
        if (name.Contains("..", StringComparison.Ordinal)) return "must not contain '..'";
        return null;
    }

    /// <summary>True when <paramref name="name"/> passes <see cref="Validate(string?)"/>.</summary>
    public static bool IsValid([NotNullWhen(true)] string? name) => Validate(name) is null;

    /// <summary>
    /// Checks a relative artifact path such as <c>model/model.zip</c>: segments that are valid names joined by '/'.
    /// Absolute paths, backslashes, empty, '.' or '..' segments and control characters are refused.
    /// </summary>
    /// <returns><see langword="null"/> when valid, otherwise a message saying what is wrong.</returns>
    public static string? ValidatePath(string? path)
    {
        if (string.IsNullOrEmpty(path)) return "must not be empty";
        if (path.Length > MaxPathLength) return $"must be at most {MaxPathLength} characters";
        if (path[0] == '/') return "must be relative (it starts with '/')";
        if (path.Contains('\\', StringComparison.Ordinal)) return "must not contain '\\'";
        foreach (var segment in path.Split('/'))
        {
            if (segment.Length == 0) return "must not contain empty segments ('//' or a trailing '/')";
            if (segment is "." or "..") return $"must not contain a '{segment}' segment";
            if (Validate(segment) is { } error) return $"segment '{Printable(segment)}' {error}";
        }
        return null;
    }

    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");

    /// <summary>True when <paramref name="value"/> is exactly <paramref name="length"/> lower-case hex digits (a SHA-256 digest, a run id).</summary>
    public static bool IsLowerHex(string? value, int length) =>
        value is not null && value.Length == length && value.AsSpan().IndexOfAnyExcept(LowerHex) < 0;

    private static string Printable(char c) => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString();

    private static string Printable(string s) => string.Concat(s.Select(Printable));
}
