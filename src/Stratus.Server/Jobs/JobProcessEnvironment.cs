namespace Stratus.Server.Jobs;

/// <summary>The node's settings as the <c>STRATUS_*</c> variables its job processes start with, so that they run as the node does.</summary>
public sealed record JobProcessEnvironment(IReadOnlyList<KeyValuePair<string, string>> Variables);
