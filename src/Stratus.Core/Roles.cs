namespace Stratus;

/// <summary>The roles a token can hold. Each role includes the rights of the ones below it.</summary>
public static class Roles
{
    /// <summary>Reads everything except tokens and the audit log.</summary>
    public const string Viewer = "viewer";

    /// <summary>Viewer rights plus every data, tracking and registry mutation.</summary>
    public const string Editor = "editor";

    /// <summary>Everything, including tokens, the audit log and storage maintenance.</summary>
    public const string Admin = "admin";

    /// <summary>
    /// A token's scope rather than a role: it calls the predict route of the endpoints it names and nothing else (the
    /// token an application embeds). It ranks below every role.
    /// </summary>
    public const string Invoke = "invoke";

    /// <summary>All roles, weakest first.</summary>
    public static IReadOnlyList<string> All { get; } = [Viewer, Editor, Admin];

    /// <summary>The rank of a role (viewer 1, editor 2, admin 3), or 0 when unknown.</summary>
    public static int Rank(string? role) => role switch
    {
        Viewer => 1,
        Editor => 2,
        Admin => 3,
        _ => 0,
    };
}

/// <summary>What owns tokens: a person or a program.</summary>
public static class UserKinds
{
    /// <summary>A person.</summary>
    public const string User = "user";

    /// <summary>A program (a pipeline, an application): made with its first token when a token names no user.</summary>
    public const string Service = "service";

    public static IReadOnlyList<string> All { get; } = [User, Service];
}

/// <summary>Run lifecycle states, as MLflow names them.</summary>
public static class RunStatus
{
    /// <summary>The run is in progress and its owner sends heartbeats.</summary>
    public const string Running = "RUNNING";

    /// <summary>The run ended successfully.</summary>
    public const string Finished = "FINISHED";

    /// <summary>The run ended with an error, or its owner stopped sending heartbeats.</summary>
    public const string Failed = "FAILED";

    /// <summary>The run was stopped on purpose.</summary>
    public const string Killed = "KILLED";

    /// <summary>True for a state a run can end in.</summary>
    public static bool IsTerminal(string status) => status is Finished or Failed or Killed;

    /// <summary>All states.</summary>
    public static IReadOnlyList<string> All { get; } = [Running, Finished, Failed, Killed];
}
