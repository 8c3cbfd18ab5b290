namespace Stratus;

/// <summary>
/// Projects: every dataset, experiment and run, job, model and endpoint belongs to one. A request names its project in
/// the <see cref="Header"/> header (the CLI's <c>--project</c>, <c>STRATUS_PROJECT</c>); without it, the project its
/// token is limited to, or <see cref="Default"/>.
/// </summary>
public static class Projects
{
    /// <summary>The project every resource made before projects belongs to, and a request's project when it names none.</summary>
    public const string Default = "default";

    /// <summary>The request header that names the project a request works in.</summary>
    public const string Header = "Stratus-Project";

    /// <summary>A member who reads the project's resources.</summary>
    public const string Viewer = "viewer";

    /// <summary>A member who also changes them.</summary>
    public const string Editor = "editor";

    /// <summary>A member who also manages the project's members and grants.</summary>
    public const string Owner = "owner";

    /// <summary>A member's roles, weakest first.</summary>
    public static IReadOnlyList<string> Roles { get; } = [Viewer, Editor, Owner];

    /// <summary>The rank of a member's role (viewer 1, editor 2, owner 3), or 0 when unknown.</summary>
    public static int Rank(string? role) => role switch
    {
        Viewer => 1,
        Editor => 2,
        Owner => 3,
        _ => 0,
    };

    /// <summary>A resource of <paramref name="project"/> named from anywhere: <c>project/name</c>.</summary>
    public static string Qualified(string project, string name) => $"{project}/{name}";

    /// <summary>The project (null: the caller's own) and name of <c>name</c> or <c>project/name</c>.</summary>
    public static (string? Project, string Name) SplitQualified(string name)
    {
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? (null, name) : (name[..slash], name[(slash + 1)..]);
    }

    /// <summary>Checks <c>name</c> or <c>project/name</c> (another project's model or dataset, used under a grant).</summary>
    /// <returns><see langword="null"/> when valid, otherwise what is wrong.</returns>
    public static string? ValidateQualified(string? name)
    {
        if (name is null) return Names.Validate(name);
        var (project, local) = SplitQualified(name);
        if (project is not null && Names.Validate(project) is { } projectError) return $"names a project that {projectError}";
        return Names.Validate(local);
    }

    /// <summary>
    /// The key that names an endpoint everywhere outside its project (serving caches, grains, monitoring rows): its name
    /// in <see cref="Default"/>, <c>project/name</c> in any other project. Project and endpoint names hold no '/'.
    /// </summary>
    public static string EndpointKey(string project, string name) => project == Default ? name : $"{project}/{name}";

    /// <summary>The project and name of an <see cref="EndpointKey"/>.</summary>
    public static (string Project, string Name) SplitEndpointKey(string key)
    {
        var (project, name) = SplitQualified(key);
        return (project ?? Default, name);
    }
}
