using System.Text.Json;

namespace Stratus.Server.Kernel;

/// <summary>Tags and other small maps kept as JSON text in a column.</summary>
internal static class JsonColumns
{
    public static string Write(IReadOnlyDictionary<string, string>? tags) =>
        JsonSerializer.Serialize(tags is null ? new Dictionary<string, string>() : new Dictionary<string, string>(tags), StratusJsonContext.Default.DictionaryStringString);

    public static Dictionary<string, string> ReadTags(string json) =>
        JsonSerializer.Deserialize(json, StratusJsonContext.Default.DictionaryStringString) ?? [];
}
