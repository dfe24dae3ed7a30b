import { describe, expect, it } from "vitest";
import { movieLensCatalog, parseMovieLens, parseRCsv, viewOfRating } from "../../scripts/movielens";
import { viewWeight } from "../../src/domain/shared-model";

const EXPORT = [
  '"movieId","title","year","genres","userId","rating","timestamp"',
  '31,"Dangerous Minds",1995,"Drama",1,2.5,1260759144',
  '1029,"Dumbo",1941,"Animation|Children|Drama|Musical",1,3,1260759179',
  '5,"""Great Performances"" Cats, live",1998,"Musical",2,4.5,1260759200',
  '7,NA,NA,"(no genres listed)",2,1,1260759300',
  '31,"Dangerous Minds",1995,"Drama",2,4,1260759400',
  "",
].join("\n");

describe("MovieLens export", () => {
  it("reads R's write.csv: quoted strings with doubled quotes and commas, bare NA as missing", () => {
    expect(parseRCsv('a,"b ""c"", d",NA,"NA"\r\n1,2,3,4')).toEqual([
      ["a", 'b "c", d', null, "NA"],
      ["1", "2", "3", "4"],
    ]);
  });

  it("turns the data frame into films and ratings", () => {
    const data = parseMovieLens(EXPORT);
    expect(data.ratings).toHaveLength(5);
    expect(data.ratings[2]).toEqual({ movieId: 5, userId: 2, rating: 4.5, timestamp: 1260759200 });
    expect(data.films.map((f) => f.movieId)).toEqual([5, 7, 31, 1029]);
    expect(data.films[0]).toEqual({
      movieId: 5,
      title: '"Great Performances" Cats, live',
      year: 1998,
      genres: ["Musical"],
    });
    expect(data.films[1]).toEqual({ movieId: 7, title: null, year: null, genres: [] });
    const [film] = movieLensCatalog(data.films.slice(1), new Map([[7, 12]]));
    expect(film).toMatchObject({ id: "ml-7", kind: "movie", title: "MovieLens film 7", votes: 12, genres: [] });
  });

  it("refuses a file that is not the movielens data frame", () => {
    expect(() => parseMovieLens('"a","b"\n1,2\n')).toThrow(/not dslabs' movielens export/);
    expect(() => parseMovieLens(`${EXPORT}x,"t",1,"Drama",1,4,1\n`)).toThrow(/malformed/);
  });

  it("maps ratings to views: 4 stars or more finished, 2 or less abandoned, partial in between", () => {
    expect([5, 4, 3.5, 2.5, 2, 0.5].map((r) => viewWeight(viewOfRating(r)))).toEqual([1, 1, 0.5, 0.5, 0.25, 0.25]);
  });
});
