namespace Stratus;

/// <summary>
/// A reference to a registered model version: <c>NAME:VERSION</c> (a number), <c>NAME@ALIAS</c>, or <c>NAME</c>
/// alone for the latest version.
/// </summary>
/// <param name="Name">The registered model's name.</param>
/// <param name="Version">The version number, when the reference names one.</param>
/// <param name="Alias">The alias, when the reference names one.</param>
public sealed record ModelRef(string Name, int? Version, string? Alias)
{
    /// <summary>Parses a reference, or returns an error message naming what is wrong.</summary>
    public static bool TryParse(string? text, out ModelRef reference, out string? error)
    {
        reference = new ModelRef("", null, null);
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "a model reference must not be empty (expected NAME, NAME:VERSION or NAME@ALIAS)";
            return false;
        }
        var at = text.IndexOf('@', StringComparison.Ordinal);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        string name;
        int? version = null;
        string? alias = null;
        if (at >= 0)
        {
            name = text[..at];
            alias = text[(at + 1)..];
            if (Names.Validate(alias) is { } aliasError)
            {
                error = $"alias in '{text}' {aliasError}";
                return false;
            }
        }
        else if (colon >= 0)
        {
            name = text[..colon];
            if (!int.TryParse(text.AsSpan(colon + 1), out var v) || v < 1)
            {
                error = $"version in '{text}' must be a positive whole number";
                return false;
            }
            version = v;
        }
        else
        {
            name = text;
        }
        if (Projects.ValidateQualified(name) is { } nameError)
        {
            error = $"model name in '{text}' {nameError}";
            return false;
        }
        reference = new ModelRef(name, version, alias);
        error = null;
        return true;
    }

    /// <inheritdoc />
    public override string ToString() =>
        Alias is not null ? $"{Name}@{Alias}" : Version is not null ? $"{Name}:{Version}" : Name;
}

/// <summary>A reference to a dataset version: <c>NAME:VERSION</c>, or <c>NAME</c> alone for the latest version.</summary>
/// <param name="Name">The dataset's name.</param>
/// <param name="Version">The version number, or <see langword="null"/> for the latest.</param>
public sealed record DatasetRef(string Name, int? Version)
{
    /// <summary>Parses a reference, or returns an error message naming what is wrong.</summary>
    public static bool TryParse(string? text, out DatasetRef reference, out string? error)
    {
        reference = new DatasetRef("", null);
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "a dataset reference must not be empty (expected NAME or NAME:VERSION)";
            return false;
        }
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var name = colon >= 0 ? text[..colon] : text;
        int? version = null;
        if (colon >= 0)
        {
            if (!int.TryParse(text.AsSpan(colon + 1), out var v) || v < 1)
            {
                error = $"version in '{text}' must be a positive whole number";
                return false;
            }
            version = v;
        }
        if (Projects.ValidateQualified(name) is { } nameError)
        {
            error = $"dataset name in '{text}' {nameError}";
            return false;
        }
        reference = new DatasetRef(name, version);
        error = null;
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => Version is null ? Name : $"{Name}:{Version}";
}
