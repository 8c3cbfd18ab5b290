using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Stratus.Testing;

/// <summary>
/// A PKCS#11 token for the tests: Debian's SoftHSM (<c>softhsm2</c>), its tokens in a folder of this test process's
/// own (<c>SOFTHSM2_CONF</c>, set in the process's real environment so that the module loaded in it reads it, and
/// inherited by the job processes it starts).
/// </summary>
public static class SoftHsm
{
    public const string Module = "/usr/lib/softhsm/libsofthsm2.so";
    public const string Pin = "4711-stratus";

    private static readonly Lazy<Task<string>> Shared = new(InitAsync);

    /// <summary>The label of a token made for this process (one per process: a module is initialized once in it).</summary>
    public static Task<string> TokenAsync() => Shared.Value;

    private static async Task<string> InitAsync()
    {
        if (!File.Exists(Module)) throw new InvalidOperationException($"{Module} is missing: install Debian's softhsm2 (.ci/run does)");
        var dir = Directory.CreateTempSubdirectory("stratus-softhsm-").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "tokens"));
        var conf = Path.Combine(dir, "softhsm2.conf");
        await File.WriteAllTextAsync(conf, $"directories.tokendir = {Path.Combine(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n");
        Environment.SetEnvironmentVariable("SOFTHSM2_CONF", conf);
        if (SetEnv("SOFTHSM2_CONF", conf, 1) != 0) throw new InvalidOperationException("setenv(SOFTHSM2_CONF) failed");
        var label = $"stratus-{Environment.ProcessId}";
        await RunAsync("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", Pin, "--so-pin", "4712-so");
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return label;
    }

    private static async Task<string> RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({process.ExitCode}): {error}");
        return output;
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);
}
