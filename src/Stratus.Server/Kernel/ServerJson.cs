using System.Text.Json.Serialization;

namespace Stratus.Server.Kernel;

/// <summary>Serializers for what the server stores as JSON columns.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(IReadOnlyList<ColumnSchema>))]
internal sealed partial class ServerJson : JsonSerializerContext;
