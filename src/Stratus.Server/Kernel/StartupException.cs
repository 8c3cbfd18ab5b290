namespace Stratus.Server.Kernel;

/// <summary>A setting or a dependency that stops the server from starting; its message is all an operator reads.</summary>
public sealed class StartupException(string message) : Exception(message);
