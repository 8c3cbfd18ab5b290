
namespace Stratus.Server.Cluster;

/// <summary>
/// A grain whose periodic work must go on when the node holding it dies: while it has work, a grain timer runs it
/// every <see cref="Period"/>, and a reminder (durable in the cluster's database; in memory on a node of its own)
/// activates it again on a surviving node within <see cref="ClusterSettings.ReminderPeriod"/>. A failed tick is logged
/// and the next one tries again; a tick that finds nothing left to do lets the reminder go and deactivates the grain.
/// </summary>
internal abstract partial class RemindedGrain(ClusterSettings cluster, ILogger logger) : Grain, IRemindable
{
    private const string Reminder = "keep";
    private bool _kept;

    /// <summary>How often the work runs while the grain is active.</summary>
    protected abstract TimeSpan Period { get; }

    /// <summary>One tick's work; false when nothing is left to do.</summary>
    protected abstract Task<bool> WorkAsync(CancellationToken ct);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(static (grain, ct) => grain.TickAsync(ct), this, new GrainTimerCreationOptions { DueTime = Period, Period = Period, KeepAlive = true });
        return Task.CompletedTask;
    }

    /// <summary>Makes sure the reminder exists, so that the work survives this activation's node.</summary>
    protected async Task KeepAsync()
    {
        if (_kept) return;
        await this.RegisterOrUpdateReminder(Reminder, cluster.ReminderPeriod, cluster.ReminderPeriod);
        _kept = true;
    }

    /// <summary>The reminder's only job is to activate the grain (whose timer does the work).</summary>
    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        _kept = true;
        return Task.CompletedTask;
    }

    private async Task TickAsync(CancellationToken ct)
    {
        bool more;
        try
        {
            more = await WorkAsync(ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogTickError(logger, GetType().Name, this.GetGrainId().ToString(), ex);
            return;
        }
        if (more) return;
        if (await this.GetReminder(Reminder, CancellationToken.None) is { } reminder) await this.UnregisterReminder(reminder, CancellationToken.None);
        _kept = false;
        this.DeactivateOnIdle();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Grain} {Id}'s periodic work failed; it will be tried again")]
    private static partial void LogTickError(ILogger logger, string grain, string id, Exception exception);
}
