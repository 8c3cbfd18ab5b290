using System.Text;

namespace Stratus.Server.Security;

/// <summary>Writes small secret files readable by their owner only, atomically.</summary>
public static class SecretFile
{
    public static void Write(string path, string content) => WriteBytes(path, Encoding.UTF8.GetBytes(content));

    public static void WriteBytes(string path, byte[] content)
    {
        var temp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new FileStream(temp, options))
        {
            file.Write(content);
            file.Flush(flushToDisk: true);
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(temp, path, overwrite: true);
    }
}
