import { describe, expect, it } from "vitest";
import { finishProbability, trainAdapter, trainingExamples } from "../../src/domain/adapter";
import { featureKeys } from "../../src/domain/features";
import { film, view } from "./personalization-fixtures";

const actions = [1, 2, 3].map((n) => film(`film-action-${n}`, { genres: ["Action"], maturity_rating: "R" }));
const horrors = [1, 2, 3].map((n) => film(`film-horror-${n}`, { genres: ["Horror"], maturity_rating: "R" }));
const history = [
  ...actions.map((f, i) => view(f, 0.98, i)),
  ...horrors.map((f, i) => view(f, 0.1, i)),
  view(film("film-half", { genres: ["Comedy"] }), 0.6),
];

describe("adapter", () => {
  it("learns from finished (1) and abandoned (0) views only", () => {
    const examples = trainingExamples(history, 30);
    expect(examples).toHaveLength(6);
    expect(examples.filter((e) => e.label === 1)).toHaveLength(3);
    expect(examples.every((e) => e.weight > 0 && e.weight <= 1)).toBe(true);
  });

  it("predicts the user finishes what resembles what they finished", () => {
    const model = trainAdapter(trainingExamples(history, 30))!;
    expect(model.positives).toBe(3);
    expect(model.negatives).toBe(3);
    const action = finishProbability(
      model,
      featureKeys(film("new-action", { genres: ["Action"], maturity_rating: "R" })),
    );
    const horror = finishProbability(
      model,
      featureKeys(film("new-horror", { genres: ["Horror"], maturity_rating: "R" })),
    );
    expect(action).toBeGreaterThan(0.6);
    expect(horror).toBeLessThan(0.4);
    // A feature it never saw says nothing: the base rate.
    expect(finishProbability(model, ["genre:Western"])).toBeCloseTo(1 / (1 + Math.exp(-model.bias)));
  });

  it("needs both finished and abandoned views", () => {
    expect(trainAdapter(trainingExamples(history.slice(0, 3), 30))).toBeNull();
    expect(trainAdapter([])).toBeNull();
  });

  it("trains the same model from the same views", () => {
    expect(trainAdapter(trainingExamples(history, 30))).toEqual(trainAdapter(trainingExamples(history, 30)));
  });
});
