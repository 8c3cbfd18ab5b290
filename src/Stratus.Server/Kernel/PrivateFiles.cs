using System.Runtime.InteropServices;

namespace Stratus.Server.Kernel;

/// <summary>
/// Everything the server writes is its user's alone: datasets, captured requests, model packages, the database,
/// DuckDB's and LightGBM's scratch files. Setting the process's umask once covers every file any library creates,
/// where a mode per call site would miss the ones written by native code.
/// </summary>
internal static class PrivateFiles
{
    private const UnixFileMode Directory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>From now on files are created 0600 and folders 0700; the data directory itself becomes 0700.</summary>
    public static void Apply(string dataDir)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(dataDir);
            return;
        }
        _ = Umask(0b000_111_111); // 077: nothing for group or others
        System.IO.Directory.CreateDirectory(dataDir, Directory);
        File.SetUnixFileMode(dataDir, Directory);
    }

    [DllImport("libc", EntryPoint = "umask")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern uint Umask(uint mask);
}
