namespace Stratus.Server.Kernel;

/// <summary>
/// The out-of-range settings of one settings class, each as <c>Stratus:Name is VALUE; what it must be</c>: a node
/// refuses to start on any (a zero slot count or a negative tick would otherwise pass silently).
/// </summary>
public sealed class SettingProblems : List<string>
{
    public void AtLeast(string name, long value, long min)
    {
        if (value < min) Add($"Stratus:{name} is {value}; it must be at least {min}");
    }

    public void Positive(string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero) Add($"Stratus:{name} is {value}; it must be positive");
    }

    public void NotNegative(string name, TimeSpan value)
    {
        if (value < TimeSpan.Zero) Add($"Stratus:{name} is {value}; it must not be negative");
    }

    public void OneOf(string name, string value, params string[] allowed)
    {
        if (!allowed.Contains(value, StringComparer.OrdinalIgnoreCase)) Add($"Stratus:{name} is '{value}'; use {string.Join(" or ", allowed)}");
    }
}
