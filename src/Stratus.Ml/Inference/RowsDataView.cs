using Microsoft.ML;
using Microsoft.ML.Data;

namespace Stratus.Ml.Inference;

/// <summary>
/// An in-memory <see cref="IDataView"/> over columns of floats, booleans and strings: how request rows reach an
/// ML.NET model without static types or a temporary file.
/// </summary>
internal sealed class RowsDataView : IDataView
{
    private readonly Array[] _columns;
    private readonly int _rows;

    public RowsDataView(DataViewSchema schema, Array[] columns, int rows)
    {
        Schema = schema;
        _columns = columns;
        _rows = rows;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(this)];

    private sealed class Cursor(RowsDataView view) : DataViewRowCursor
    {
        private int _position = -1;

        public override DataViewSchema Schema => view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => true;

        public override bool MoveNext() => ++_position < view._rows;

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            Delegate getter = view._columns[column.Index] switch
            {
                float[] floats => (ValueGetter<float>)((ref float v) => v = floats[_position]),
                bool[] bools => (ValueGetter<bool>)((ref bool v) => v = bools[_position]),
                string[] strings => (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> v) => v = strings[_position].AsMemory()),
                _ => throw new InvalidOperationException($"column '{column.Name}' has an unsupported type"),
            };
            return (ValueGetter<TValue>)getter;
        }
    }
}
