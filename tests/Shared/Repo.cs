namespace Stratus.Testing;

/// <summary>Files of the repository the tests run from.</summary>
public static class Repo
{
    /// <summary>The folder holding Stratus.slnx, found upward from the test binaries.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Stratus.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (Stratus.slnx) above " + AppContext.BaseDirectory);
    }
}
