using System.Globalization;
using System.Text;

namespace Stratus.Server.Hosting;

/// <summary>
/// Where a node's log goes (<see cref="HostSettings.LogFormat"/>): with <c>text</c>, every line to
/// <c>&lt;DataDir&gt;/logs/stratus.log</c> and only errors to the console, so that a person running <c>stratus up</c>
/// reads the platform's own messages, not the hosting framework's; with <c>json</c>, one JSON object per line on
/// standard output, for a log collector.
/// </summary>
internal static class NodeLogging
{
    public static void Configure(ILoggingBuilder logging, string format, string dataDir)
    {
        logging.ClearProviders();
        if (format == "json")
        {
            logging.AddJsonConsole(j => j.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ");
            return;
        }
        logging.AddProvider(new FileLoggerProvider(Path.Combine(dataDir, "logs", "stratus.log")));
        logging.AddSimpleConsole(c => c.SingleLine = true);
        logging.AddFilter<Microsoft.Extensions.Logging.Console.ConsoleLoggerProvider>(null, LogLevel.Error);
    }
}

/// <summary>Appends log lines to one file (kept below 10 MB: a larger one becomes <c>.1</c> at start).</summary>
internal sealed class FileLoggerProvider : ILoggerProvider
{
    private const long MaxBytes = 10L << 20;
    private readonly StreamWriter _writer;
    private readonly Lock _lock = new();

    public FileLoggerProvider(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (File.Exists(path) && new FileInfo(path).Length > MaxBytes) File.Move(path, path + ".1", overwrite: true);
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        _writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true };
    }

    public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

    public void Dispose()
    {
        lock (_lock) _writer.Dispose();
    }

    private void Write(string line)
    {
        lock (_lock)
        {
            try
            {
                _writer.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // a line logged during shutdown, after the file closed
            }
        }
    }

    private sealed class FileLogger(FileLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {Level(logLevel)} {category}: {formatter(state, exception)}");
            provider.Write(exception is null ? line : line + Environment.NewLine + exception);
        }

        private static string Level(LogLevel level) => level switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        };
    }
}
