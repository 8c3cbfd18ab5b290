using System.Collections.Concurrent;
using System.Diagnostics;

namespace Stratus.Server.Serving;

/// <summary>
/// One replica of an endpoint on this silo: an Orleans activation that is one lane for model calls (a request, or a
/// micro-batch). An endpoint's <see cref="ReplicaSet"/> starts replicas as in-flight requests outgrow them, up to its
/// maximum; each replica stops itself (a timer of its own) once the endpoint has not needed it for its idle time,
/// down to the minimum. With a minimum of 0 the last one goes too and the endpoint's models are unloaded; the next
/// request starts a replica again (a cold start, timed in the metrics).
/// </summary>
public interface IReplicaGrain : IGrainWithStringKey
{
    /// <summary>Activates the replica (idempotent).</summary>
    Task StartAsync();
}

/// <summary>
/// Model calls do not travel as Orleans messages: a request and the replica it runs on are in the same process, and a
/// message per request cost a tenth of the serving throughput (measured with <c>bench serve</c>: 0.85 to 0.75 of a
/// bare endpoint). The activation holds the lane: it exists while the lane does, Orleans places and collects it, and
/// the lane's requests run on the caller's thread.
/// </summary>
[Orleans.Placement.PreferLocalPlacement]
internal sealed partial class ReplicaGrain(ReplicaRegistry registry, ServingSettings options, ILogger<ReplicaGrain> logger) : Grain, IReplicaGrain
{
    private ReplicaSet _set = null!;
    private int _index;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        _set = registry.For(ReplicaSet.EndpointOf(key));
        _index = ReplicaSet.IndexOf(key);
        _set.Added(_index);
        var tick = options.ReplicaTick;
        this.RegisterGrainTimer(static (grain, _) => grain.CheckAsync(), this, new GrainTimerCreationOptions { DueTime = tick, Period = tick, KeepAlive = true });
        return Task.CompletedTask;
    }

    public Task StartAsync() => Task.CompletedTask;

    private Task CheckAsync()
    {
        if (_set.TryRetire(_index))
        {
            LogRetired(logger, _set.Endpoint, _index);
            DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // A silo that stops takes its replicas with it; starting others would only delay the stop.
        _set.Removed(_index, regrow: reason.ReasonCode != DeactivationReasonCode.ShuttingDown);
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Endpoint {Endpoint}: replica {Index} stopped, idle")]
    private static partial void LogRetired(ILogger logger, string endpoint, int index);
}

/// <summary>
/// An endpoint's replicas on this silo and the lanes they give: a model call takes a lane (waiting while all are
/// busy, which starts another replica when the maximum allows) and gives it back. Survives the endpoint's re-routes
/// and setting changes; its scaling settings come with each <see cref="LoadedEndpoint"/>.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "the SemaphoreSlim allocates no OS handle unless AvailableWaitHandle is read")]
public sealed class ReplicaSet(string endpoint, ReplicaRegistry registry)
{
    // Lanes free minus calls waiting for one: one interlocked operation per call while lanes are free; the waiting
    // calls queue on _handoff, released once for each lane given back (or added) while any wait.
    private int _free;
    private int _lanes;
    private readonly SemaphoreSlim _handoff = new(0);
    private readonly Lock _lock = new();
    private readonly HashSet<int> _active = [];
    private readonly long[] _neededAt = new long[EndpointService.MaxReplicas + 1]; // when demand last reached k (ms ticks)
    private volatile EndpointScaling _scaling = new(1, 1, 300);
    private bool _starting;
    private int _retiring = -1;
    private long _wakeStarted; // Stopwatch timestamp of the first request that found no replica; 0 if none

    public string Endpoint => endpoint;

    /// <summary>Replicas running on this silo.</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _active.Count;
        }
    }

    public EndpointScaling Scaling
    {
        get => _scaling;
        set
        {
            _scaling = value;
            Grow(); // a raised minimum starts replicas at once
        }
    }

    internal static string Key(string endpoint, string silo, int index) => $"{endpoint}/{silo}/{index}";

    // The endpoint's key may hold a '/' itself (project/name); the silo's never does.
    internal static string EndpointOf(string key) => key[..key.LastIndexOf('/', key.LastIndexOf('/') - 1)];

    internal static int IndexOf(string key) => int.Parse(key.AsSpan(key.LastIndexOf('/') + 1), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Takes a lane for one model call of a request that arrived at <paramref name="arrived"/> (a Stopwatch
    /// timestamp: a wake-up is timed from the arrival of the request that found no replica); give it back with <see cref="Exit"/>.
    /// </summary>
    public ValueTask EnterAsync(long arrived)
    {
        var free = Interlocked.Decrement(ref _free);
        ref var neededAt = ref _neededAt[Math.Clamp(Volatile.Read(ref _lanes) - free, 1, _neededAt.Length - 1)];
        var now = Environment.TickCount64;
        if (Volatile.Read(ref neededAt) != now) Volatile.Write(ref neededAt, now); // once a millisecond: the line stays shared between cores
        return free >= 0 ? ValueTask.CompletedTask : new ValueTask(WaitAsync(arrived));
    }

    private async Task WaitAsync(long arrived)
    {
        lock (_lock)
        {
            if (_active.Count == 0 && _wakeStarted == 0) _wakeStarted = arrived;
        }
        Grow();
        await _handoff.WaitAsync();
    }

    /// <summary>Gives a lane back (to a waiting call, if any).</summary>
    public void Exit()
    {
        if (Interlocked.Increment(ref _free) <= 0) _handoff.Release();
    }

    /// <summary>Calls in a model call or waiting for a lane.</summary>
    private int Demand => Volatile.Read(ref _lanes) - Volatile.Read(ref _free);

    /// <summary>Starts one more replica when requests wait for a lane (or the minimum is not met) and the maximum allows; one start at a time.</summary>
    private void Grow()
    {
        int index;
        lock (_lock)
        {
            var scaling = _scaling;
            var count = _active.Count;
            if (_starting || count >= scaling.MaxReplicas || (count >= scaling.MinReplicas && Demand <= count)) return;
            _starting = true;
            index = 0;
            while (_active.Contains(index)) index++;
        }
        registry.Start(this, index);
    }

    internal void StartFailed()
    {
        lock (_lock) _starting = false;
    }

    /// <summary>A replica's activation: one more lane.</summary>
    internal void Added(int index)
    {
        long woke;
        lock (_lock)
        {
            if (!_active.Add(index)) return;
            _starting = false;
            woke = _wakeStarted;
            _wakeStarted = 0;
        }
        Interlocked.Increment(ref _lanes);
        Exit(); // a new lane: taken at once by a waiting call, if any
        registry.Metrics.Replicas(endpoint, Count, woke == 0 ? null : Stopwatch.GetElapsedTime(woke));
        Grow();
    }

    /// <summary>
    /// Whether the replica should stop: the endpoint has more than its minimum and has not needed this many lanes
    /// for its idle time. One replica retires at a time, and only with a free lane to take away.
    /// </summary>
    internal bool TryRetire(int index)
    {
        lock (_lock)
        {
            var count = _active.Count;
            if (_retiring >= 0 || count <= _scaling.MinReplicas || !_active.Contains(index)) return false;
            var since = Environment.TickCount64 - (_scaling.IdleSeconds * 1000L);
            for (var k = count; k < _neededAt.Length; k++)
            {
                if (Volatile.Read(ref _neededAt[k]) > since) return false;
            }
            if (Interlocked.Decrement(ref _free) < 0)
            {
                Exit(); // every lane is in use after all: give back what was not there
                return false;
            }
            Interlocked.Decrement(ref _lanes);
            _retiring = index;
            return true;
        }
    }

    /// <summary>A replica's deactivation (retired, or the silo stopping): one lane less; the last one with a minimum of 0 unloads the endpoint.</summary>
    internal void Removed(int index, bool regrow)
    {
        int count;
        lock (_lock)
        {
            if (!_active.Remove(index)) return;
            if (_retiring == index) _retiring = -1;
            else
            {
                // Not retired by TryRetire: its lane is taken away as a waiting call would take it.
                Interlocked.Decrement(ref _lanes);
                if (Interlocked.Decrement(ref _free) < 0) _ = _handoff.WaitAsync();
            }
            count = _active.Count;
        }
        registry.Metrics.Replicas(endpoint, count, null);
        if (count == 0 && Demand <= 0) registry.ScaledToZero(endpoint);
        if (regrow) Grow();
    }
}

/// <summary>The replica sets of this silo, by endpoint.</summary>
public sealed partial class ReplicaRegistry(IGrainFactory grains, Orleans.Runtime.ILocalSiloDetails silo, ModelCache cache, ServingMetrics metrics, ILogger<ReplicaRegistry> logger)
{
    private readonly ConcurrentDictionary<string, ReplicaSet> _sets = new(StringComparer.Ordinal);

    internal ServingMetrics Metrics => metrics;

    public ReplicaSet For(string endpoint) => _sets.GetOrAdd(endpoint, name => new ReplicaSet(name, this));

    /// <summary>Replicas of the endpoint running on this silo.</summary>
    public int CountOf(string endpoint) => _sets.TryGetValue(endpoint, out var set) ? set.Count : 0;

    /// <summary>The endpoint was deleted: its replicas stop at their next check.</summary>
    public void Stop(string endpoint)
    {
        if (_sets.TryGetValue(endpoint, out var set)) set.Scaling = new EndpointScaling(0, 1, 0);
    }

    internal void Start(ReplicaSet set, int index)
    {
        var key = ReplicaSet.Key(set.Endpoint, silo.SiloAddress.ToParsableString().Replace('/', '_'), index);
        _ = grains.GetGrain<IReplicaGrain>(key).StartAsync().ContinueWith(t =>
        {
            if (t.IsFaulted)
            {
                LogStartFailed(logger, t.Exception, set.Endpoint);
                set.StartFailed();
            }
        }, TaskScheduler.Default);
    }

    /// <summary>The endpoint's last replica stopped: its models leave memory until the next request.</summary>
    internal void ScaledToZero(string endpoint)
    {
        cache.Release(endpoint);
        LogScaledToZero(logger, endpoint);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Endpoint {Endpoint}: a replica failed to start")]
    private static partial void LogStartFailed(ILogger logger, Exception? exception, string endpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Endpoint {Endpoint} scaled to zero: its models are unloaded until the next request")]
    private static partial void LogScaledToZero(ILogger logger, string endpoint);
}
