namespace Stratus.Server.Kernel;

/// <summary>Page tokens are offsets, opaque to clients.</summary>
internal static class Paging
{
    public const int DefaultSize = 50;
    public const int MaxSize = 1000;

    public static (int Offset, int Size) Parse(int? pageSize, string? pageToken)
    {
        var size = pageSize ?? DefaultSize;
        if (size is < 1 or > MaxSize) throw ProblemException.Invalid("page_size", $"must be between 1 and {MaxSize}");
        var offset = 0;
        if (!string.IsNullOrEmpty(pageToken) && (!int.TryParse(pageToken, out offset) || offset < 0))
            throw ProblemException.Invalid("page_token", "is not a token this server issued");
        return (offset, size);
    }

    /// <summary>Builds a page from up to size+1 fetched items.</summary>
    public static Page<T> Build<T>(List<T> fetched, int offset, int size) =>
        fetched.Count > size
            ? new Page<T>(fetched[..size], (offset + size).ToString(System.Globalization.CultureInfo.InvariantCulture))
            : new Page<T>(fetched, null);
}
