using Stratus.Server.Kernel;

namespace Stratus.Server.Security;

/// <summary>How a node guards sign-ins (bound from the <c>Stratus</c> section; see <see cref="Hosting.StratusOptions"/>).</summary>
public sealed class SecuritySettings
{
    /// <summary>Failed authentications one client address may make within <see cref="AuthFailureWindow"/> before its requests with credentials get 429. Default: 10.</summary>
    public int AuthFailureBurst { get; set; } = 10;

    /// <summary>The window over which failed authentications are counted per client address. Default: 1 minute.</summary>
    public TimeSpan AuthFailureWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Whether to print where the admin token the first start creates is kept (the token itself is never printed). Default: true.</summary>
    public bool PrintAdminToken { get; set; } = true;

    /// <summary>How long a token works when its creator names no lifetime, and what a rotation gives the new secret. Default: 90 days.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromDays(90);

    /// <summary>The longest lifetime a token may be created with. Default: 365 days.</summary>
    public TimeSpan MaxTokenLifetime { get; set; } = TimeSpan.FromDays(365);

    public SettingProblems Problems()
    {
        var problems = new SettingProblems();
        problems.AtLeast(nameof(AuthFailureBurst), AuthFailureBurst, 1);
        problems.Positive(nameof(AuthFailureWindow), AuthFailureWindow);
        problems.Positive(nameof(TokenLifetime), TokenLifetime);
        if (TokenLifetime > MaxTokenLifetime) problems.Add($"Stratus:{nameof(TokenLifetime)} is {TokenLifetime}; it must not exceed Stratus:{nameof(MaxTokenLifetime)} ({MaxTokenLifetime})");
        return problems;
    }
}
