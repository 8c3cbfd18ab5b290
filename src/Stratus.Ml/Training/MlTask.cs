using Stratus.Ml.Data;

namespace Stratus.Ml.Training;

/// <summary>What a model predicts.</summary>
public enum MlTask
{
    /// <summary>One of two classes.</summary>
    BinaryClassification,

    /// <summary>One of three or more classes.</summary>
    MulticlassClassification,

    /// <summary>A number.</summary>
    Regression,
}

/// <summary>Names of tasks as the API and CLI spell them.</summary>
public static class MlTasks
{
    /// <summary>Parses <c>binary</c>, <c>multiclass</c> or <c>regression</c>.</summary>
    public static MlTask? Parse(string? text) => text?.ToLowerInvariant() switch
    {
        null => null,
        "binary" or "binary-classification" => MlTask.BinaryClassification,
        "multiclass" or "multiclass-classification" => MlTask.MulticlassClassification,
        "regression" => MlTask.Regression,
        _ => throw new DataFormatException($"task '{text}' is not one of binary, multiclass, regression"),
    };

    /// <summary>The API spelling of a task.</summary>
    public static string Name(this MlTask task) => task switch
    {
        MlTask.BinaryClassification => "binary",
        MlTask.MulticlassClassification => "multiclass",
        _ => "regression",
    };

    /// <summary>The most distinct values an integer target may have and still be read as classes.</summary>
    public const int MaxIntegerClasses = 20;

    /// <summary>
    /// Infers the task from the target column's profile: two values make a binary task; text, or whole numbers with
    /// few values, a multiclass one; other numbers a regression.
    /// </summary>
    /// <exception cref="DataFormatException">The target is constant, empty, or of a type no task predicts.</exception>
    public static MlTask Detect(ColumnProfile target)
    {
        if (target.Count == 0) throw new DataFormatException($"target column '{target.Name}' has no values");
        if (target.Distinct < 2) throw new DataFormatException($"target column '{target.Name}' is constant: there is nothing to predict");
        if (target.Type == "BOOLEAN" || target.Distinct == 2) return MlTask.BinaryClassification;
        if (target.Type == "VARCHAR") return MlTask.MulticlassClassification;
        if (DuckDb.IsNumeric(target.Type))
        {
            var whole = target.Type is "TINYINT" or "SMALLINT" or "INTEGER" or "BIGINT" or "UTINYINT" or "USMALLINT" or "UINTEGER" or "UBIGINT";
            return whole && target.Distinct <= MaxIntegerClasses ? MlTask.MulticlassClassification : MlTask.Regression;
        }
        throw new DataFormatException($"target column '{target.Name}' has type {target.Type}; a target must be a number, text or a boolean");
    }
}
